"""Read journeys for attribution from analysts' files: grouped paths or single touches.

Two layouts:

- **grouped paths**, the format ChannelAttribution and marketing-attribution-models read:
  `path;total_conversions;total_conversion_value;total_null`, one distinct path a row, channels
  joined by `>` (spaces around it are ignored). The value and null columns are optional.
- **touches**: `journey_id,timestamp,channel,converted,value`, one touch a row; timestamps are ISO
  8601 (UTC when no offset is given) or seconds since the epoch; `converted` is 1/0, true/false or
  yes/no; `value` (optional) is the conversion's value on converting rows. The domain's
  `journeys_from_touches` cuts the touches into paths within the lookback window.

Memory stays bounded for files of millions of rows: rows are read in chunks and each chunk is
turned into numpy arrays (channel ids, lengths, counts) at once, so no Python object per touch
outlives its chunk. Every problem is reported as an `InputError` naming the file, the row (row 1
is the first row after the header) and the column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from numpy.typing import NDArray

from onefunnel.domain.attribution import AttributionInputError, GroupedJourneys
from onefunnel.domain.attribution.journeys import FloatArray, IntArray
from onefunnel.domain.attribution.touches import journeys_from_touches
from onefunnel.services.errors import InputError

_CHUNK_ROWS = 65_536
_SEPARATORS = (";", ",", "\t", "|")
_TRUE = frozenset({"1", "true", "t", "yes", "y"})
_FALSE = frozenset({"0", "false", "f", "no", "n", ""})


class FileLayout(StrEnum):
    """Which layout a file has; `auto` tells them apart by the header."""

    auto = "auto"
    grouped = "grouped"
    touches = "touches"


@dataclass(frozen=True)
class AttributionFileOptions:
    """How to read a file. `None` separator: sniffed from the header. `None` value or null
    column: the layout's usual name, used when present; a name given explicitly must exist."""

    layout: FileLayout = FileLayout.auto
    sep: str | None = None
    channel_separator: str = ">"
    path_column: str = "path"
    conversions_column: str = "total_conversions"
    value_column: str | None = None
    null_column: str | None = None
    journey_column: str = "journey_id"
    timestamp_column: str = "timestamp"
    channel_column: str = "channel"
    converted_column: str = "converted"
    lookback_days: float | None = None


# Arrow reads the file in blocks of this many bytes (its default is 1 MiB; larger blocks cost
# less per block, smaller ones bound the memory of the split pieces).
_ARROW_BLOCK_BYTES = 8 << 20


def read_journeys(file: Path, options: AttributionFileOptions) -> GroupedJourneys:
    """Read a grouped-paths or touch-level file (detected from its header when `auto`)."""
    with _open(file) as handle:
        header_line = handle.readline()
    if not header_line.strip():
        raise InputError(f"{file}: the file is empty (expected a header line)")
    sep = options.sep if options.sep is not None else _sniff_separator(header_line)
    if len(sep) != 1:
        raise InputError(f"the column separator must be one character, got {sep!r}")
    layout = options.layout
    if layout is FileLayout.auto:
        layout = _detect_layout(file, header_line, sep, options)
    if layout is FileLayout.grouped:
        return read_grouped_paths(file, options, sep=sep)
    return read_touches(file, options, sep=sep)


def read_grouped_paths(
    file: Path, options: AttributionFileOptions, *, sep: str = ";"
) -> GroupedJourneys:
    """Read a grouped-paths file into grouped journeys.

    Well-formed files take a fast path (Arrow's CSV reader and string kernels, about ten times
    faster than the csv module on a million paths); anything unusual falls back to the careful
    reader below, which is the one that names the row and column of a problem.
    """
    fast = _read_grouped_arrow(file, options, sep)
    if fast is not None:
        return fast
    return _read_grouped_checked(file, options, sep)


def _read_grouped_arrow(
    file: Path, options: AttributionFileOptions, sep: str
) -> GroupedJourneys | None:
    """The fast path, or None when the file needs the careful reader (or pyarrow is missing).

    Arrow's streaming CSV reader hands over the file in blocks of a few megabytes; each block's
    paths are split and dictionary-encoded by Arrow's string kernels and mapped to the file's
    channel ids, so only the flat numpy arrays grow with the file: a million paths stay well
    under 1 GB (the whole-file table and its split pieces once peaked near it).
    """
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.compute as pc  # type: ignore[import-untyped]
        import pyarrow.csv as pacsv  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - pyarrow is a dependency; the fallback still works
        return None
    value_name = options.value_column or "total_conversion_value"
    null_name = options.null_column or "total_null"
    amount_names = (options.conversions_column, value_name, null_name)
    try:
        reader = pacsv.open_csv(
            file,
            read_options=pacsv.ReadOptions(block_size=_ARROW_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                column_types={options.path_column: pa.string()}
                | {name: pa.float64() for name in amount_names},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError):
        return None
    names = set(reader.schema.names)
    if options.path_column not in names or options.conversions_column not in names:
        return None
    if options.value_column is not None and value_name not in names:
        return None
    if options.null_column is not None and null_name not in names:
        return None
    has_value, has_null = value_name in names, null_name in names
    amounts = [
        (role, name, blank_is_zero)
        for role, name, present, blank_is_zero in (
            ("conversions", options.conversions_column, True, False),
            ("value", value_name, has_value, True),
            ("null", null_name, has_null, True),
        )
        if present
    ]
    ids: dict[str, int] = {}
    parts: dict[str, list[NDArray[Any]]] = {
        k: [] for k in ("touches", "lengths", "conversions", "value", "null")
    }
    try:
        for batch in reader:
            for role, name, blank_is_zero in amounts:
                numbers = _arrow_amounts(pc, batch.column(name), blank_is_zero=blank_is_zero)
                if numbers is None:
                    return None
                parts[role].append(numbers)
            pieces = pc.split_pattern(batch.column(options.path_column), options.channel_separator)
            parts["lengths"].append(np.asarray(pc.list_value_length(pieces), dtype=np.int64))
            encoded = pc.dictionary_encode(pc.list_flatten(pieces))
            # The few distinct raw pieces of the block, trimmed and numbered in order of first
            # appearance across the file (`a > b` and `a>b` share ids, as in the careful reader).
            remap = np.empty(len(encoded.dictionary), dtype=np.int64)
            for raw_id, raw in enumerate(encoded.dictionary.to_pylist()):
                label = raw.strip()
                if not label:
                    return None  # an empty path or channel name: the careful reader names its row
                remap[raw_id] = ids.setdefault(label, len(ids))
            parts["touches"].append(remap[encoded.indices.to_numpy()])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None  # a cell that is not a number, a ragged row: the careful reader says where
    if not parts["lengths"] or not sum(len(p) for p in parts["lengths"]):
        return None
    lengths = np.concatenate(parts["lengths"])
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    conversions = np.concatenate(parts["conversions"])
    try:
        return GroupedJourneys(
            channels=tuple(ids),
            touch_channels=np.concatenate(parts["touches"]),
            offsets=offsets,
            conversions=conversions,
            nulls=np.concatenate(parts["null"]) if has_null else conversions * 0,
            values=np.concatenate(parts["value"]) if has_value else None,
        )
    except AttributionInputError:
        return None


def _arrow_amounts(pc: Any, column: Any, *, blank_is_zero: bool) -> FloatArray | None:
    """A block's numeric column as floats; None when a blank is not allowed or a number is
    negative or not finite (the careful reader then names the row)."""
    if column.null_count and not blank_is_zero:
        return None
    numbers = np.asarray(pc.fill_null(column, 0.0), dtype=np.float64)
    if not np.all(np.isfinite(numbers) & (numbers >= 0)):
        return None
    return numbers


def _read_grouped_checked(file: Path, options: AttributionFileOptions, sep: str) -> GroupedJourneys:
    """Read row by row in chunks, naming the row and column of the first problem."""
    channels = _ChannelIndex()
    touch_parts: list[IntArray] = []
    length_parts: list[IntArray] = []
    counts: dict[str, list[FloatArray]] = {"conversions": [], "value": [], "null": []}
    with _open(file) as handle:
        reader = _Rows(file, handle, sep)
        path_at = reader.column(options.path_column)
        conversions_at = reader.column(options.conversions_column)
        value_at = reader.optional_column(options.value_column, "total_conversion_value")
        null_at = reader.optional_column(options.null_column, "total_null")
        for chunk in reader.chunks():
            paths = chunk.strings(path_at)
            touches, lengths = _encode_paths(
                chunk, paths, channels, options.channel_separator, path_at[1]
            )
            touch_parts.append(touches)
            length_parts.append(lengths)
            counts["conversions"].append(chunk.amounts(conversions_at, blank_is_zero=False))
            if value_at is not None:
                counts["value"].append(chunk.amounts(value_at, blank_is_zero=True))
            if null_at is not None:
                counts["null"].append(chunk.amounts(null_at, blank_is_zero=True))
    if not length_parts:
        raise InputError(f"{file}: no paths after the header")
    lengths = np.concatenate(length_parts)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    conversions = np.concatenate(counts["conversions"])
    try:
        return GroupedJourneys(
            channels=tuple(channels.names),
            touch_channels=np.concatenate(touch_parts),
            offsets=offsets,
            conversions=conversions,
            nulls=np.concatenate(counts["null"]) if null_at is not None else conversions * 0,
            values=np.concatenate(counts["value"]) if value_at is not None else None,
        )
    except AttributionInputError as exc:
        raise InputError(f"{file}: {exc}") from None


def read_touches(file: Path, options: AttributionFileOptions, *, sep: str = ",") -> GroupedJourneys:
    """Read a touch-level file and cut it into journeys within the lookback window."""
    journeys = _Codes()
    channels = _ChannelIndex()
    journey_parts: list[IntArray] = []
    time_parts: list[FloatArray] = []
    channel_parts: list[IntArray] = []
    converted_parts: list[FloatArray] = []
    value_parts: list[FloatArray] = []
    with _open(file) as handle:
        reader = _Rows(file, handle, sep)
        journey_at = reader.column(options.journey_column)
        time_at = reader.column(options.timestamp_column)
        channel_at = reader.column(options.channel_column)
        converted_at = reader.column(options.converted_column)
        value_at = reader.optional_column(options.value_column, "value")
        for chunk in reader.chunks():
            journey_parts.append(journeys.encode(chunk.strings(journey_at)))
            time_parts.append(chunk.parsed(time_at, _seconds, "an ISO 8601 time or a number"))
            names = chunk.strings(channel_at)
            channel_parts.append(_encode_channels(chunk, names, channels, channel_at))
            converted_parts.append(chunk.parsed(converted_at, _flag, "1/0, true/false, yes/no"))
            if value_at is not None:
                value_parts.append(chunk.amounts(value_at, blank_is_zero=True))
    if not journey_parts:
        raise InputError(f"{file}: no touches after the header")
    try:
        return journeys_from_touches(
            journey=np.concatenate(journey_parts),
            timestamp_seconds=np.concatenate(time_parts),
            channel=np.concatenate(channel_parts),
            converted=np.concatenate(converted_parts) > 0,
            value=np.concatenate(value_parts) if value_at is not None else None,
            channels=tuple(channels.names),
            lookback_days=options.lookback_days,
        )
    except AttributionInputError as exc:
        raise InputError(f"{file}: {exc}") from None


def _open(file: Path) -> TextIO:
    try:
        return file.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{file}: cannot open: {exc.strerror or exc}") from None


def _sniff_separator(header_line: str) -> str:
    return max(_SEPARATORS, key=header_line.count)


def _detect_layout(
    file: Path, header_line: str, sep: str, options: AttributionFileOptions
) -> FileLayout:
    header = {name.strip() for name in next(csv.reader([header_line], delimiter=sep), [])}
    if options.path_column in header:
        return FileLayout.grouped
    touch_columns = {options.journey_column, options.timestamp_column, options.channel_column}
    if touch_columns <= header:
        return FileLayout.touches
    raise InputError(
        f"{file}: cannot tell the layout from the header: expected a {options.path_column!r} "
        f"column (grouped paths) or {options.journey_column!r}, {options.timestamp_column!r} and "
        f"{options.channel_column!r} columns (touches)"
    )


class _Rows:
    """A CSV file after its header, read in chunks, with the header's column positions."""

    def __init__(self, file: Path, handle: TextIO, sep: str) -> None:
        if len(sep) != 1:
            raise InputError(f"the column separator must be one character, got {sep!r}")
        self.file = file
        self.reader = csv.reader(handle, delimiter=sep)
        try:
            header = next(self.reader)
        except StopIteration:
            raise InputError(f"{file}: the file is empty") from None
        except csv.Error as exc:
            raise InputError(f"{file}: header: {exc}") from None
        self.header = [name.strip() for name in header]

    def column(self, name: str) -> tuple[int, str]:
        if name not in self.header:
            found = ", ".join(repr(h) for h in self.header)
            raise InputError(f"{self.file}: missing column {name!r} (the header has {found})")
        return self.header.index(name), name

    def optional_column(self, given: str | None, usual: str) -> tuple[int, str] | None:
        if given is not None:
            return self.column(given)
        return (self.header.index(usual), usual) if usual in self.header else None

    def chunks(self) -> Iterator[_Chunk]:
        first_row = 1
        while True:
            try:
                rows = list(islice(self.reader, _CHUNK_ROWS))
            except csv.Error as exc:
                raise InputError(f"{self.file} near line {self.reader.line_num}: {exc}") from None
            if not rows:
                return
            yield _Chunk(self.file, rows, first_row)
            first_row += len(rows)


class _Chunk:
    """Up to _CHUNK_ROWS rows; blank lines are skipped but still counted in row numbers."""

    def __init__(self, file: Path, rows: list[list[str]], first_row: int) -> None:
        self.file = file
        self.numbers: Sequence[int] = range(first_row, first_row + len(rows))
        if not all(rows):
            self.numbers = [n for n, row in zip(self.numbers, rows, strict=True) if row]
            rows = [row for row in rows if row]
        self.rows = rows

    def fail(self, index: int, column: str, problem: str) -> InputError:
        return InputError(f"{self.file} row {self.numbers[index]}, column {column!r}: {problem}")

    def strings(self, column: tuple[int, str]) -> list[str]:
        at, name = column
        try:
            return [row[at] for row in self.rows]
        except IndexError:
            short = next(i for i, row in enumerate(self.rows) if len(row) <= at)
            count = len(self.rows[short])
            raise self.fail(short, name, f"missing: the row has only {count} fields") from None

    def amounts(self, column: tuple[int, str], *, blank_is_zero: bool) -> FloatArray:
        """Non-negative finite numbers (counts or money) of one column."""
        cells = self.strings(column)
        try:
            numbers = np.fromiter(map(float, cells), dtype=np.float64, count=len(cells))
        except ValueError:
            numbers = np.array(
                [self._number(i, cell, column[1], blank_is_zero) for i, cell in enumerate(cells)]
            )
        bad = np.flatnonzero(~np.isfinite(numbers) | (numbers < 0))
        if len(bad):
            first = int(bad[0])
            raise self.fail(first, column[1], f"{cells[first].strip()!r} is negative or not finite")
        return numbers

    def _number(self, index: int, cell: str, column: str, blank_is_zero: bool) -> float:
        if blank_is_zero and not cell.strip():
            return 0.0
        try:
            return float(cell)
        except ValueError:
            raise self.fail(index, column, f"{cell!r} is not a number") from None

    def parsed(
        self, column: tuple[int, str], parse: Callable[[str], float], expected: str
    ) -> FloatArray:
        cells = self.strings(column)
        out = np.empty(len(cells), dtype=np.float64)
        for index, cell in enumerate(cells):
            try:
                out[index] = parse(cell)
            except ValueError:
                raise self.fail(index, column[1], f"{cell!r} is not {expected}") from None
        return out


class _Codes(dict[str, int]):
    """Dense integer codes for labels, assigned on first sight."""

    def __missing__(self, key: str) -> int:
        code = self[key] = len(self)
        return code

    def encode(self, labels: Sequence[str]) -> IntArray:
        return np.fromiter(map(self.__getitem__, labels), dtype=np.int64, count=len(labels))


class _EmptyChannelError(Exception):
    pass


class _ChannelIndex(dict[str, int]):
    """Channel ids keyed by the raw text between separators, so `a > b` and `a>b` share ids
    while each distinct raw piece is stripped only once."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self._by_name: dict[str, int] = {}

    def __missing__(self, raw: str) -> int:
        name = raw.strip()
        if not name:
            raise _EmptyChannelError
        code = self._by_name.get(name)
        if code is None:
            code = self._by_name[name] = len(self.names)
            self.names.append(name)
        self[raw] = code
        return code


def _encode_paths(
    chunk: _Chunk, paths: list[str], channels: _ChannelIndex, separator: str, column: str
) -> tuple[IntArray, IntArray]:
    lengths = np.fromiter((p.count(separator) for p in paths), np.int64, len(paths)) + 1
    pieces = separator.join(paths).split(separator)
    try:
        touches = np.fromiter(map(channels.__getitem__, pieces), np.int64, len(pieces))
    except _EmptyChannelError:
        for index, path in enumerate(paths):
            if not path.strip():
                raise chunk.fail(index, column, "empty path") from None
            if any(not piece.strip() for piece in path.split(separator)):
                raise chunk.fail(index, column, f"empty channel name in {path!r}") from None
        raise  # unreachable: some path held the empty piece
    return touches, lengths


def _encode_channels(
    chunk: _Chunk, names: list[str], channels: _ChannelIndex, column: tuple[int, str]
) -> IntArray:
    try:
        return np.fromiter(map(channels.__getitem__, names), np.int64, len(names))
    except _EmptyChannelError:
        blank = next(i for i, name in enumerate(names) if not name.strip())
        raise chunk.fail(blank, column[1], "empty channel") from None


def _seconds(cell: str) -> float:
    text = cell.strip()
    try:
        seconds = float(text)
    except ValueError:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    if not math.isfinite(seconds):
        raise ValueError(text)
    return seconds


def _flag(cell: str) -> float:
    text = cell.strip().lower()
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    raise ValueError(text)
