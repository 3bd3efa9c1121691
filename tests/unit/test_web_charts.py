"""Chart colours and legends (pure: no database): every mark keeps 3:1 against the
background, legends read in words, side states are labelled."""

from __future__ import annotations

import pytest

from onefunnel.domain.stages import ALL_STATES
from onefunnel.web.charts import (
    _TEAM_COLOURS,
    BACKGROUND,
    SERIES_COLOURS,
    contrast_ratio,
    funnel_chart,
    line_chart,
)
from onefunnel.web.panels import PANELS


def test_contrast_ratio_matches_known_values() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    # The colours the issue measured: too faint against white.
    assert contrast_ratio("#f59e0b", "#ffffff") == pytest.approx(2.15, abs=0.01)
    assert contrast_ratio("#10b981", "#ffffff") == pytest.approx(2.54, abs=0.01)
    with pytest.raises(ValueError, match="rrggbb"):
        contrast_ratio("#fff", "#000000")


def _mark_colours(spec: dict[str, object]) -> list[str]:
    encoding = spec["encoding"]
    assert isinstance(encoding, dict)
    return list(encoding["color"]["scale"]["range"])


@pytest.mark.parametrize("colour", [*_TEAM_COLOURS.values(), *SERIES_COLOURS])
def test_every_chart_colour_keeps_3_to_1_against_the_background(colour: str) -> None:
    assert contrast_ratio(colour, BACKGROUND) >= 3.0, colour
    assert contrast_ratio(colour, "#f9fafb") >= 3.0, colour  # the page behind the panels


def test_the_charts_drawn_use_only_those_colours() -> None:
    from onefunnel.analytics.table import Table

    spend = PANELS["spend"].chart
    assert spend is not None
    table = Table(("channel", "spend", "attributed_revenue"), (("paid_search", 10.0, 20.0),))
    specs = [
        funnel_chart({s.value: 1 for s in ALL_STATES}),
        spend(table),
        line_chart("x", [{"m": "2026-01", "s": "a", "v": 1.0}], x="m", y="v", series="s"),
    ]
    for spec in specs:
        for colour in _mark_colours(spec):
            assert contrast_ratio(colour, BACKGROUND) >= 3.0, colour
        assert "opacity" not in spec["encoding"]  # nothing fades a mark below its contrast


def test_legends_and_labels_are_words() -> None:
    spec = funnel_chart({"awareness": 5, "nurture": 2})
    teams = spec["encoding"]["color"]["scale"]["domain"]
    assert "account management" in teams
    assert not any("_" in t for t in teams)
    values = {v["stage"]: v for v in spec["data"]["values"]}
    assert values["nurture (side state)"]["contacts"] == 2
    assert values["churned (side state)"]["team"] == "account management"
    assert values["awareness"]["contacts"] == 5
