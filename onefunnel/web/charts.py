"""Vega-Lite chart specs for the dashboard, built in Python and rendered by vega-embed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onefunnel.domain.stages import ALL_STATES, Stage

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
_TEAM_COLOURS = {"marketing": "#3b82f6", "sales": "#f59e0b", "account_management": "#10b981"}


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


def funnel_chart(stages: Mapping[str, int]) -> dict[str, Any]:
    """A horizontal bar per state (funnel order, side states last), coloured by owning team."""
    values = [
        {
            "stage": state.value,
            "contacts": stages.get(state.value, 0),
            "team": state.owner.value,
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
                "sort": [s.value for s in ALL_STATES],
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
                "legend": {"orient": "bottom", "title": "owner"},
            },
            "opacity": {
                "field": "kind",
                "type": "nominal",
                "scale": {"domain": ["funnel", "side state"], "range": [1.0, 0.55]},
                "legend": None,
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
