"""The Vega-Lite spec of a segment's size over time (``web/charts.py`` conventions: inline
values, as wide as the page, tooltips; one dark series with point marks, so it reads without
colour and every mark keeps at least 3:1 against the white page)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from onefunnel.web.charts import SCHEMA, SERIES_COLOURS

#: The line and its points (#1d4ed8: 6.7:1 against white).
LINE_COLOUR = SERIES_COLOURS[0]


def size_chart(name: str, points: Sequence[tuple[datetime, int, int, int]]) -> dict[str, Any]:
    """Members after each refresh (time, size, entered, left): a stepped line with a point per
    refresh; the tooltip says who entered and left at it."""
    values = [
        {"refreshed": at.isoformat(), "members": size, "entered": entered, "left": left}
        for at, size, entered, left in points
    ]
    return {
        "$schema": SCHEMA,
        "description": f"Members of the segment {name} after each refresh",
        "width": "container",
        "height": 200,
        "data": {"values": values},
        "mark": {
            "type": "line",
            "interpolate": "step-after",
            "strokeWidth": 2,
            "color": LINE_COLOUR,
            "point": {"filled": True, "size": 50, "color": LINE_COLOUR},
            "tooltip": True,
        },
        "encoding": {
            "x": {
                "field": "refreshed",
                "type": "temporal",
                "title": "refreshed (UTC)",
                "scale": {"type": "utc"},  # the page's times are UTC, whatever the browser's zone
                "axis": {
                    "format": "%Y-%m-%d %H:%M",
                    "formatType": "utc",
                    "labelAngle": -30,
                    "labelOverlap": True,
                },
            },
            "y": {
                "field": "members",
                "type": "quantitative",
                "title": "members",
                "scale": {"zero": True},
            },
            "tooltip": [
                {
                    "field": "refreshed",
                    "type": "temporal",
                    "format": "%Y-%m-%d %H:%M",
                    "formatType": "utc",
                    "title": "refreshed (UTC)",
                },
                {"field": "members", "type": "quantitative"},
                {"field": "entered", "type": "quantitative"},
                {"field": "left", "type": "quantitative"},
            ],
        },
    }
