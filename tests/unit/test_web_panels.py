"""How the dashboard prints report values (pure: no database)."""

from __future__ import annotations

import pytest

from onefunnel.analytics.table import Table
from onefunnel.web.panels import PANELS, Column, Format, cells, format_value


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (None, Format.money, "–"),
        (1234567, Format.number, "1,234,567"),
        (12345.678, Format.money, "12,346"),
        (96.4199, Format.money, "96.42"),
        (0.6631, Format.rate, "66%"),
        (1.2834, Format.ratio, "1.28×"),
        (12.326, Format.days, "12.3 d"),
        (14.86, Format.hours, "14.9 h"),
        (5.957, Format.months, "6.0 mo"),
        ("paid_search", Format.text, "paid search"),
        ("bad_fit=3, no_budget=1", Format.text, "bad fit=3, no budget=1"),
    ],
)
def test_format_value(value: float | str | None, fmt: Format, text: str) -> None:
    assert format_value(value, fmt) == text


def test_cells_pick_the_panel_columns_in_its_order() -> None:
    table = Table.of(("b", "a", "c"), [(2, "x", 0.5), (3, "y", None)])
    rows = cells(table, (Column("a", "A", Format.text), Column("c", "C", Format.rate)))
    assert [[c.text for c in row] for row in rows] == [["x", "50%"], ["y", "–"]]
    assert [c.numeric for c in rows[0]] == [False, True]


def test_every_panel_names_a_report_and_unique_columns() -> None:
    assert list(PANELS) == ["leaks", "spend", "quality", "follow-up"]
    for panel in PANELS.values():
        names = [c.name for c in panel.columns]
        assert len(names) == len(set(names)), panel.slug
