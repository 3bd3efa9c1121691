"""Vega-Lite chart specs for the dashboard, built in Python and rendered by vega-embed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onefunnel.domain.stages import ALL_STATES, Stage

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
_TEAM_COLOURS = {"marketing": "#3b82f6", "sales": "#f59e0b", "account_management": "#10b981"}


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
    return {
        "$schema": SCHEMA,
        "description": "Contacts per funnel stage",
        "width": "container",
        "height": 260,
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True, "cornerRadiusEnd": 3},
        "encoding": {
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
    }


def stage_label(stage: str) -> str:
    """Human label for a state name."""
    try:
        return Stage(stage).value.replace("_", " ")
    except ValueError:
        return stage
