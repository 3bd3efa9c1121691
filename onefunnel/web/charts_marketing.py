"""Vega-Lite specs for marketing's pages: the funnel by group, a campaign's results and spend,
and the attribution comparison. Colours are at least 3:1 against the white page, and every
legend is in words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from onefunnel.analytics.table import Table
from onefunnel.domain.stages import ALL_STATES
from onefunnel.web.charts import bar_chart

#: One colour per state, each at least 3:1 against white (Tailwind 700s; greys for side states).
STATE_COLOURS = ("#1d4ed8", "#0e7490", "#6d28d9", "#b45309", "#047857", "#be123c",
                 "#4b5563", "#57534e", "#7f1d1d")  # fmt: skip


def words(text: object) -> str:
    """A code as words (``paid_search`` → "paid search")."""
    return str(text).replace("_", " ")


def stages_by_group_chart(
    table: Table, by: str, names: Mapping[str, str] | None = None, *, title: str
) -> dict[str, Any]:
    """Entries per stage, one stacked bar per group (channel, campaign or cohort)."""
    names = names or {}
    values = [
        {
            "group": names.get(str(r[by]), words(r[by])),
            "stage": words(r["stage"]),
            "entries": r["entries"] or 0,
        }
        for r in table.to_records()
    ]
    order = [words(s.value) for s in ALL_STATES]
    spec = bar_chart(
        title,
        values,
        {
            # Cohorts read in time order; channels and campaigns biggest first.
            "y": {
                "field": "group",
                "type": "nominal",
                "title": None,
                "sort": "ascending" if by == "cohort" else "-x",
            },
            "x": {"field": "entries", "type": "quantitative", "title": "entries in the period"},
            "color": {
                "field": "stage",
                "type": "nominal",
                "scale": {"domain": order, "range": list(STATE_COLOURS)},
                "sort": order,
                "legend": {"orient": "bottom", "title": "stage", "columns": 3},
            },
            "order": {"field": "stage", "sort": "ascending"},
        },
        height=max(120, 22 * len({v["group"] for v in values})),
    )
    return spec


def results_chart(figures: Sequence[tuple[str, float]], *, title: str) -> dict[str, Any]:
    """One bar per step of a campaign's results (leads → MQLs → accepted → customers)."""
    values = [{"step": label, "count": value} for label, value in figures]
    return bar_chart(
        title,
        values,
        {
            "y": {"field": "step", "type": "nominal", "sort": None, "title": None},
            "x": {"field": "count", "type": "quantitative", "title": "contacts"},
            "color": {"value": "#1d4ed8"},
        },
        height=140,
    )


def month_spend_chart(months: Sequence[tuple[str, float, float | None]]) -> dict[str, Any]:
    """Spend beside the budget line, per month."""
    values: list[dict[str, Any]] = []
    for month, spent, budget in months:
        values.append({"month": month, "measure": "spend", "amount": spent})
        if budget is not None:
            values.append({"month": month, "measure": "budget", "amount": budget})
    return bar_chart(
        "Spend and budget per month",
        values,
        {
            "x": {"field": "month", "type": "ordinal", "title": None},
            "xOffset": {"field": "measure"},
            "y": {"field": "amount", "type": "quantitative", "title": "amount"},
            "color": {
                "field": "measure",
                "type": "nominal",
                "scale": {"domain": ["spend", "budget"], "range": ["#b45309", "#1d4ed8"]},
                "legend": {"orient": "bottom", "title": None},
            },
        },
        height=200,
    )


def _amount(value: object) -> float:
    return round(float(value), 2) if isinstance(value, (int, float)) else 0.0


def attribution_chart(table: Table, models: Sequence[str]) -> dict[str, Any]:
    """Revenue credited per channel under each model: a grid, darker for more credit."""
    dim = table.columns[0]
    values = [
        {"channel": words(r[dim]), "model": words(m), "revenue": _amount(r[m])}
        for r in table.to_records()
        for m in models
    ]
    spec = bar_chart(
        "Revenue credited per channel under each attribution model",
        values,
        {
            "x": {"field": "model", "type": "nominal", "title": None, "sort": None,
                  "axis": {"labelAngle": -40}},
            "y": {"field": "channel", "type": "nominal", "title": None},
            "color": {"field": "revenue", "type": "quantitative",
                      "scale": {"scheme": "blues"},
                      "legend": {"orient": "bottom", "title": "revenue credited"}},
        },
        height=max(120, 22 * len(table.rows)),
    )  # fmt: skip
    spec["mark"] = {"type": "rect", "tooltip": True, "stroke": "#4b5563", "strokeWidth": 0.5}
    return spec
