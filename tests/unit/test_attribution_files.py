"""Reading grouped-path and touch-level attribution files."""

from __future__ import annotations

from pathlib import Path

import pytest

from onefunnel.services import attribution_files
from onefunnel.services.attribution_files import (
    AttributionFileOptions,
    FileLayout,
    read_journeys,
)
from onefunnel.services.errors import InputError

GROUPED = """path;total_conversions;total_conversion_value;total_null
search > social;3;300.5;10
direct;0;0;4
social>email > search ;1;20;0
"""

TOUCHES = """journey_id,timestamp,channel,converted,value
u1,2024-03-01T10:00:00Z,search,0,
u1,2024-03-03T10:00:00+00:00,email,1,250
u2,1709287200,social,false,
u1,2024-03-02 10:00:00,direct,no,
"""


def write(tmp_path: Path, text: str, name: str = "paths.csv") -> Path:
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    return file


def read(file: Path, **options: object) -> object:
    return read_journeys(file, AttributionFileOptions(**options))  # type: ignore[arg-type]


def test_grouped_paths_are_read_with_counts_value_and_nulls(tmp_path: Path) -> None:
    journeys = read_journeys(write(tmp_path, GROUPED), AttributionFileOptions())

    assert journeys.channels == ("search", "social", "direct", "email")
    assert [journeys.path(p) for p in range(3)] == [
        ("search", "social"),
        ("direct",),
        ("social", "email", "search"),
    ]
    assert journeys.conversions.tolist() == [3, 0, 1]
    assert journeys.nulls.tolist() == [10, 4, 0]
    assert journeys.values is not None
    assert journeys.values.tolist() == [300.5, 0, 20]


def test_grouped_paths_in_many_chunks_match_one_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = write(tmp_path, GROUPED + "\n" + GROUPED.split("\n", 1)[1] * 3)
    whole = read_journeys(file, AttributionFileOptions())
    monkeypatch.setattr(attribution_files, "_CHUNK_ROWS", 2)
    chunked = read_journeys(file, AttributionFileOptions())

    assert chunked.channels == whole.channels
    assert chunked.touch_channels.tolist() == whole.touch_channels.tolist()
    assert chunked.offsets.tolist() == whole.offsets.tolist()
    assert chunked.conversions.tolist() == whole.conversions.tolist()


def test_column_names_and_separators_can_be_given(tmp_path: Path) -> None:
    text = 'journey,conv,revenue\n"a | b",2,9.5\nc,1,1\n'
    journeys = read_journeys(
        write(tmp_path, text),
        AttributionFileOptions(
            layout=FileLayout.grouped,
            sep=",",
            channel_separator="|",
            path_column="journey",
            conversions_column="conv",
            value_column="revenue",
        ),
    )
    assert journeys.channels == ("a", "b", "c")
    assert journeys.nulls.tolist() == [0, 0]  # no null column: every journey converted
    assert journeys.values is not None
    assert journeys.values.tolist() == [9.5, 1]


def test_value_and_null_columns_are_optional(tmp_path: Path) -> None:
    journeys = read_journeys(
        write(tmp_path, "path;total_conversions\na > b;2\n"), AttributionFileOptions()
    )
    assert journeys.values is None
    assert journeys.nulls.tolist() == [0]


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("", {}, "the file is empty"),
        ("path;total_conversions\n", {}, "no paths after the header"),
        ("route;conversions\na;1\n", {}, "cannot tell the layout"),
        (
            "path;conversions\na;1\n",
            {"layout": FileLayout.grouped},
            "missing column 'total_conversions'",
        ),
        ("path;total_conversions\na;1\n", {"value_column": "value"}, "missing column 'value'"),
        (
            "path;total_conversions\na;1\nb;-2\n",
            {},
            "row 2, column 'total_conversions': '-2' is negative",
        ),
        (
            "path;total_conversions\na;1\nb;x\n",
            {},
            "row 2, column 'total_conversions': 'x' is not a number",
        ),
        ("path;total_conversions\na;1\nb;nan\n", {}, "row 2, .* not finite"),
        ("path;total_conversions\na;1\n;3\n", {}, "row 2, column 'path': empty path"),
        ("path;total_conversions\na > > b;1\n", {}, "row 1, column 'path': empty channel name"),
        (
            "path;total_conversions;total_null\na;1;0\nb;1\n",
            {},
            "row 2, column 'total_null': missing",
        ),
        # blank lines count in row numbers, so the number matches line - 1
        ("path;total_conversions\na;1\n\nb;-1\n", {}, "row 3, column 'total_conversions'"),
        ("path;total_conversions\na;1\n", {"sep": "::"}, "one character"),
    ],
)
def test_bad_grouped_files_fail_naming_row_and_column(
    tmp_path: Path, text: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        read(write(tmp_path, text), **options)


def test_missing_file_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        read(tmp_path / "nope.csv")


def test_touch_file_is_detected_and_cut_into_journeys(tmp_path: Path) -> None:
    journeys = read_journeys(write(tmp_path, TOUCHES), AttributionFileOptions())

    assert [journeys.path(p) for p in range(journeys.n_paths)] == [
        ("search", "direct", "email"),
        ("social",),
    ]
    assert journeys.conversions.tolist() == [1, 0]
    assert journeys.nulls.tolist() == [0, 1]
    assert journeys.values is not None
    assert journeys.values.tolist() == [250, 0]
    assert journeys.touch_ages_days is not None
    assert journeys.touch_ages_days.tolist() == [2.0, 1.0, 0.0, 0.0]


def test_touch_file_lookback_window(tmp_path: Path) -> None:
    journeys = read_journeys(write(tmp_path, TOUCHES), AttributionFileOptions(lookback_days=1.5))
    assert journeys.path(0) == ("direct", "email")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("u3,yesterday,search,0,", "row 5, column 'timestamp': 'yesterday' is not an ISO 8601"),
        ("u3,2024-01-01,search,maybe,", "row 5, column 'converted': 'maybe' is not 1/0"),
        ("u3,2024-01-01,,1,3", "row 5, column 'channel': empty channel"),
        ("u3,2024-01-01,search,1,-3", "row 5, column 'value': '-3' is negative"),
        ("u3,2024-01-01", "row 5, column 'channel': missing"),
    ],
)
def test_bad_touch_rows_fail_naming_row_and_column(tmp_path: Path, row: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read(write(tmp_path, TOUCHES + row + "\n"))


def test_fast_and_careful_readers_agree(tmp_path: Path) -> None:
    from onefunnel.services.attribution_files import _read_grouped_arrow, _read_grouped_checked

    file = tmp_path / "paths.csv"
    file.write_text(
        "path;total_conversions;total_conversion_value;total_null\n"
        "email > search ;2;200.5;3\n"
        "search;0;;7\n"
        "display>email > direct;1;10;0\n"
        " social ;4;40;1\n",
        encoding="utf-8",
    )
    options = AttributionFileOptions()
    fast = _read_grouped_arrow(file, options, ";")
    careful = _read_grouped_checked(file, options, ";")
    assert fast is not None
    assert fast.channels == careful.channels == ("email", "search", "display", "direct", "social")
    for name in ("touch_channels", "offsets", "conversions", "nulls", "values"):
        assert getattr(fast, name).tolist() == getattr(careful, name).tolist(), name


@pytest.mark.parametrize(
    "bad_row",
    ["email > > search;1;0;0", ";1;0;0", "email;-1;0;0", "email;x;0;0", "email;;0;0"],
)
def test_the_fast_path_leaves_bad_files_to_the_careful_reader(tmp_path: Path, bad_row: str) -> None:
    from onefunnel.services.attribution_files import _read_grouped_arrow

    file = tmp_path / "paths.csv"
    file.write_text(
        "path;total_conversions;total_conversion_value;total_null\nsearch;1;1;1\n" + bad_row + "\n",
        encoding="utf-8",
    )
    assert _read_grouped_arrow(file, AttributionFileOptions(), ";") is None
    with pytest.raises(InputError, match="row 2"):
        read_journeys(file, AttributionFileOptions())


def test_the_fast_path_reads_block_by_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Channel ids stay those of first appearance across blocks; a bad row in a late block still
    sends the file to the careful reader, which names it."""
    from onefunnel.services import attribution_files
    from onefunnel.services.attribution_files import _read_grouped_arrow, _read_grouped_checked

    monkeypatch.setattr(attribution_files, "_ARROW_BLOCK_BYTES", 256)
    channels = ["email", "search", "display", "direct", "social", "events", "partner"]
    rows = [
        f"{' > '.join(channels[(i + k) % len(channels)] for k in range(1 + i % 4))};{i % 3};{i};{i % 5}"
        for i in range(300)
    ]
    file = tmp_path / "paths.csv"
    file.write_text(
        "path;total_conversions;total_conversion_value;total_null\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    options = AttributionFileOptions()
    fast = _read_grouped_arrow(file, options, ";")
    careful = _read_grouped_checked(file, options, ";")
    assert fast is not None
    assert fast.channels == careful.channels
    for name in ("touch_channels", "offsets", "conversions", "nulls", "values"):
        assert getattr(fast, name).tolist() == getattr(careful, name).tolist(), name

    file.write_text(
        "path;total_conversions;total_conversion_value;total_null\n"
        + "\n".join([*rows[:250], "email;-2;0;0", *rows[250:]])
        + "\n",
        encoding="utf-8",
    )
    assert _read_grouped_arrow(file, options, ";") is None
    with pytest.raises(InputError, match="row 251"):
        read_journeys(file, options)
