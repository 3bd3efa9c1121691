"""The segment size chart: one series with point marks (readable without colour), its colour at
least 3:1 against the page, a point per refresh, times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from onefunnel.web.charts import BACKGROUND, contrast_ratio
from onefunnel.web.charts_segments import LINE_COLOUR, size_chart


def test_size_chart_has_a_point_per_refresh_and_contrasting_marks() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    spec = size_chart("warm", [(t0, 3, 3, 0), (t0 + timedelta(days=1), 2, 0, 1)])
    assert [v["members"] for v in spec["data"]["values"]] == [3, 2]
    assert spec["data"]["values"][1]["refreshed"] == "2026-01-02T00:00:00+00:00"
    assert spec["mark"]["point"]["filled"] is True
    assert "color" not in spec["encoding"]  # one series: no legend, no meaning in hue
    assert contrast_ratio(LINE_COLOUR, BACKGROUND) >= 3
    assert spec["encoding"]["x"]["scale"]["type"] == "utc"
