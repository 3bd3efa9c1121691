"""Vega-Lite chart specs for the dashboard, built in Python and rendered by vega-embed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onefunnel.domain.stages import ALL_STATES, Stage

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
#: The background charts are drawn on (a panel is white) — every mark keeps 3:1 against it.
BACKGROUND = "#ffffff"
#: Each team's colour, by the team's name in words (the legend shows the keys as they are).
#: Darker shades than the usual 500s: these are at least 4.8:1 against the background
#: (tests/unit/test_web_charts.py computes it), so bars read without relying on hue alone.
_TEAM_COLOURS = {"marketing": "#2563eb", "sales": "#b45309", "account management": "#047857"}
#: Colours for series that are not teams (measures, plan beside actual), in the order used.
SERIES_COLOURS = ("#1d4ed8", "#be123c", "#047857", "#7c3aed", "#b45309", "#4b5563")
#: Legends sit under the chart in two columns, so they fit a 390 px wide phone.
LEGEND: dict[str, Any] = {"orient": "bottom", "columns": 2, "labelLimit": 0}
#: What the side states are, in words (shown under every chart that draws them).
SIDE_STATES_NOTE = (
    "Side states sit outside the funnel's order: nurture (handed back to marketing, with a "
    "reason), disqualified (not to be worked) and churned (a customer who left)."
)


def _linear(channel: float) -> float:
    return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """The relative luminance of a ``#rrggbb`` colour (WCAG 2.x)."""
    text = colour.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    r, g, b = (_linear(int(text[i : i + 2], 16) / 255) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """The WCAG contrast ratio of two colours, from 1 (same) to 21 (black on white)."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def words(name: str) -> str:
    """A machine name as a legend reads it: ``account_management`` → ``account management``."""
    return name.replace("_", " ")


def bar_chart(
    description: str, values: list[dict[str, Any]], encoding: dict[str, Any], *, height: int
) -> dict[str, Any]:
    """A Vega-Lite bar chart over inline values, as wide as its container, with tooltips."""
    return {
        "$schema": SCHEMA,
        "description": description,
        "width": "container",
        "height": height,
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": encoding,
    }


def _state_label(state: Stage) -> str:
    return state.value if state.is_funnel else f"{state.value} (side state)"


def funnel_chart(stages: Mapping[str, int]) -> dict[str, Any]:
    """A horizontal bar per state (funnel order, side states last and labelled so), coloured by
    owning team; the legend names the teams in words."""
    values = [
        {
            "stage": _state_label(state),
            "contacts": stages.get(state.value, 0),
            "team": words(state.owner.value),
            "order": i,
            "kind": "funnel" if state.is_funnel else "side state",
        }
        for i, state in enumerate(ALL_STATES)
    ]
    spec = bar_chart(
        "Contacts per funnel stage",
        values,
        {
            "y": {
                "field": "stage",
                "type": "nominal",
                "sort": [_state_label(s) for s in ALL_STATES],
                "title": None,
            },
            "x": {"field": "contacts", "type": "quantitative", "title": "contacts"},
            "color": {
                "field": "team",
                "type": "nominal",
                "scale": {
                    "domain": list(_TEAM_COLOURS),
                    "range": list(_TEAM_COLOURS.values()),
                },
                "legend": {**LEGEND, "title": "owning team"},
            },
        },
        height=260,
    )
    spec["mark"]["cornerRadiusEnd"] = 3
    return spec


def stage_label(stage: str) -> str:
    """Human label for a state name."""
    try:
        return Stage(stage).value.replace("_", " ")
    except ValueError:
        return stage


def line_chart(
    description: str,
    values: list[dict[str, Any]],
    *,
    x: str,
    y: str,
    series: str,
    y_format: str = "",
    height: int = 220,
) -> dict[str, Any]:
    """Lines with points, one per series (legend in words, colours from SERIES_COLOURS, a
    dash per series too, so they read without colour)."""
    names = list(dict.fromkeys(str(v[series]) for v in values))
    palette = [SERIES_COLOURS[i % len(SERIES_COLOURS)] for i in range(len(names))]
    dashes = [[1, 0], [6, 3], [2, 2], [8, 2, 2, 2]]
    y_axis: dict[str, Any] = {"title": None}
    if y_format:
        y_axis["format"] = y_format
    return {
        "$schema": SCHEMA,
        "description": description,
        "width": "container",
        "height": height,
        "data": {"values": values},
        "mark": {"type": "line", "point": True, "tooltip": True, "strokeWidth": 2},
        "encoding": {
            "x": {"field": x, "type": "ordinal", "title": None, "axis": {"labelAngle": -45}},
            "y": {"field": y, "type": "quantitative", "axis": y_axis},
            "color": {
                "field": series,
                "type": "nominal",
                "scale": {"domain": names, "range": palette},
                "legend": {**LEGEND, "title": None},
            },
            "strokeDash": {
                "field": series,
                "type": "nominal",
                "scale": {"domain": names, "range": [dashes[i % 4] for i in range(len(names))]},
                "legend": None,
            },
        },
    }
