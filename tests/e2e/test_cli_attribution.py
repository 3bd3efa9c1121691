"""`onefunnel attribution FILE` end to end: files in, tables / CSV / JSON out, clean failures."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from onefunnel.cli.attribution import attribution

GROUPED = """path;total_conversions;total_conversion_value;total_null
search > social > direct;3;300;10
direct;1;50;4
social > email;2;120;3
email;0;0;6
"""

TOUCHES = """journey_id,timestamp,channel,converted,value
u1,2024-03-01T10:00:00Z,search,0,
u1,2024-03-02T10:00:00Z,direct,0,
u1,2024-03-03T10:00:00Z,email,1,250
u2,2024-03-01T10:00:00Z,social,0,
"""

ALL = "first,last,last_non_direct,linear,time_decay,position,w_shaped,markov,shapley"


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(attribution)
    return app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli(), list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def grouped(tmp_path: Path) -> Path:
    file = tmp_path / "paths.csv"
    file.write_text(GROUPED)
    return file


def test_csv_output_has_the_documented_columns_and_sums_to_totals(grouped: Path) -> None:
    code, out, err = run(str(grouped), "--model", ALL, "--format", "csv")

    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["model", "channel", "conversions", "value"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    assert models == ALL.split(",")
    for model in models:
        mine = [r for r in rows if r["model"] == model]
        assert {r["channel"] for r in mine} == {"search", "social", "direct", "email"}
        assert sum(float(r["conversions"]) for r in mine) == pytest.approx(6.0)
        assert sum(float(r["value"]) for r in mine) == pytest.approx(470.0)


def test_json_output_is_records_with_known_answers(grouped: Path) -> None:
    code, out, err = run(str(grouped), "-m", "first,last_non_direct", "-f", "json")

    assert code == 0, err
    records = {(r["model"], r["channel"]): (r["conversions"], r["value"]) for r in json.loads(out)}
    assert records[("first", "search")] == (3.0, 300.0)
    assert records[("first", "social")] == (2.0, 120.0)
    assert records[("last_non_direct", "social")] == (3.0, 300.0)
    assert records[("last_non_direct", "direct")] == (1.0, 50.0)  # only direct on its path


def test_markov_order_two_and_table_output(grouped: Path) -> None:
    code, out, err = run(str(grouped), "--model", "markov", "--order", "2")

    assert code == 0, err
    assert "markov" in out
    assert "search" in out
    assert "Attribution of 6 conversions" in out


def test_touch_file_with_lookback_and_half_life(tmp_path: Path) -> None:
    file = tmp_path / "touches.csv"
    file.write_text(TOUCHES)

    code, out, err = run(
        str(file), "-m", "time_decay", "--half-life", "1", "--lookback-days", "1.5", "-f", "json"
    )

    assert code == 0, err
    credit = {r["channel"]: r["conversions"] for r in json.loads(out)}
    # search is 2 days old and falls out of the window; direct (1 day) gets 1/3, email 2/3.
    assert credit == pytest.approx({"direct": 1 / 3, "email": 2 / 3, "search": 0.0, "social": 0.0})


def test_custom_columns_and_separator(tmp_path: Path) -> None:
    file = tmp_path / "custom.tsv"
    file.write_text("route\tconv\nads|mail\t4\n")
    code, out, err = run(
        str(file),
        "--input",
        "grouped",
        "--sep",
        "\t",
        "--channel-separator",
        "|",
        "--path-column",
        "route",
        "--conversions-column",
        "conv",
        "-m",
        "linear",
        "-f",
        "csv",
    )
    assert code == 0, err
    assert out.splitlines() == [
        "model,channel,conversions,value",
        "linear,ads,2.0,",
        "linear,mail,2.0,",
    ]


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("path;total_conversions\na;1\nb;-1\n", [], "row 2, column 'total_conversions'"),
        ("path;total_null\na;1\n", [], "missing column 'total_conversions'"),
        ("path;total_conversions\n;1\n", [], "row 1, column 'path': empty path"),
        ("path;total_conversions\na;1\n", ["-m", "markov,magic"], "unknown attribution model"),
        ("path;total_conversions\na;1\n", ["--order", "7"], "order must be between 1 and 4"),
    ],
)
def test_bad_input_fails_with_one_line_and_no_traceback(
    tmp_path: Path, text: str, args: list[str], message: str
) -> None:
    file = tmp_path / "bad.csv"
    file.write_text(text)

    code, out, err = run(str(file), *args)

    assert code == 1
    assert message in " ".join(err.split())
    assert "Traceback" not in err + out


def test_missing_file_fails_cleanly(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "absent.csv"))
    assert code == 1
    assert "no such file" in err
